"""Applications: the catalog of versioned application tarballs on the system
controller, and the lifecycle of the applications at each site."""
