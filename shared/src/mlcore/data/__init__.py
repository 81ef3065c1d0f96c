"""Data: acquisition from pinned sources, validation against a contract, splitting."""
