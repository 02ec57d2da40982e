"""Schema evolution: registry subjects, the committed schema history, `eventgen diff`, registry."""
