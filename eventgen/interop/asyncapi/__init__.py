"""`eventgen import asyncapi FILE -o specs/`: eventgen specs from an AsyncAPI 2.6/3.0 document."""
