"""The study app: sites, roles, patients, clinical records, audit trail and derived engine state."""
