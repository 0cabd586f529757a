"""The installed dcmanager version (from pbr metadata)."""

import pbr.version

version_info = pbr.version.VersionInfo("dcmanager")
version_string = version_info.version_string()
