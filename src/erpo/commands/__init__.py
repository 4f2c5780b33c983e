"""CLI verbs, one module each; see erpo.cli."""
