"""newsalert: a self-hosted daemon that polls AI news sources and posts one clear alert per story."""

__version__ = "0.1.0"
