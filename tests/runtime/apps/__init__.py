"""Small user-style apps for the consumer tests, and a hand-written "generated" module."""
