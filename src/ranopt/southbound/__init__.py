"""Southbound clients (I/O layer): O1 NETCONF on the TS 28.541 NRM, A1-P v2, discovery."""
