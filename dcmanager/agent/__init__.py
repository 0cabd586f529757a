"""``dcmanager-agent``: the service on each subcloud that prestaging drives.

It answers the subcloud's system information and health, and runs prestage
operations in the background: it fetches a release's package files from the system
controller's release store and its container images from a registry, into its own
state directory, verified, resumable and never twice.
"""
