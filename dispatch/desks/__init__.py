"""The desks beside dispatch: CPR volunteers, partner agencies and mass-casualty incidents."""
