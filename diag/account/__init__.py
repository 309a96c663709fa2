"""The account test: log in with the user's password, send and receive a message.

Everything else in maildiag stops at the login prompt; this package goes one step
further, only over a channel whose certificate verifies for the host name.
"""
