"""Connectivity: DNS, TCP and the bounded reads every protocol module uses."""
