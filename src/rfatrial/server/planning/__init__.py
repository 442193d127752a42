"""Session plans: the investigator's choice for a patient's next RFA session, against the planner's
proposal, confirmed only when it keeps the protocol's rules (:mod:`.services`)."""
