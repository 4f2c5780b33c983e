"""Ex-ante reasoning: the output format, the risk classifier and the thought builder."""
