"""Multi-objective indicators (and, later, the submission format and the boards)."""
