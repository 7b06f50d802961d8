"""The HTTP front: the server, which request is for which AWS service, the browser guard and SigV4 checks."""
