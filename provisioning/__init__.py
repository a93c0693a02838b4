"""Self-provisioning booths: enrolment codes, booth identity, signed configuration bundles.

Pure modules (``schema``, ``bundle``, ``signing``) are imported by both the booth and
the server; ``server`` and ``service`` need the ``[server]`` extra, ``booth_client``
needs ``requests`` (the ``[kiosk]`` extra). See ``docs/provisioning.md``.
"""
