"""The resolved, frozen, sorted intermediate representation that emitters read."""
