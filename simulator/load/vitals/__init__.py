"""The vitals load: tablets streaming vitals to their hospitals through the server, one slow."""
