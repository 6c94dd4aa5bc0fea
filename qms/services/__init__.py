"""Domain operations. Each takes the acting user explicitly, flushes but never commits,
and raises qms.errors exceptions with a message for the user."""
