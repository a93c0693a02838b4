"""The booth's screens: one ``.kv`` and one small ``.py`` per screen; they only render state."""
