"""The AED map: public defibrillators, CPR volunteers and mass-casualty distribution (pure core).

Start at `walking.nearest_aeds` (which AED a bystander can fetch, open now, how long on foot),
`volunteers` and `alerts` (whom to alert, who fetches, what their phone may show) and
`mci.plan` (how many casualties of each triage colour go to which hospital). The registry is
OpenStreetMap-shaped (`registry`); the bundled one is SYNTHETIC (`synthetic`, data/aed/).
"""
