"""Identity providers that really speak the protocols, on loopback, for the SSO tests.

Each serves HTTP on 127.0.0.1 at a free port from a thread of the test
process, so both Django's test client (through ``requests``) and a real
browser can follow its redirects.
"""
