"""Operations: database failover, release verification and restore drills (I/O layer)."""
