"""The hospital link: choosing the receiving hospital and streaming vitals to it.

It will own hospital choice (capabilities, ED load, ETA), the pre-arrival notice and the
FHIR R4 vitals and ECG stream up to handover; the choice is pure core, the stream a thin shell.
"""
