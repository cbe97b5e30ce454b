"""The AED map: public defibrillators and volunteer first responders near an incident.

It will own the nearest-AED query and the choice of volunteers to alert (walking ETA to the
AED, then to the patient), as a pure core over synthetic, clearly labelled seeded data.
"""
