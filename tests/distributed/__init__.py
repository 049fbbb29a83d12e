"""The native distributed run: the docker-compose topology as local processes (issue #11)."""
