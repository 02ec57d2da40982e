"""Interop with other tools' formats (AsyncAPI import); emitters live in eventgen.emit."""
