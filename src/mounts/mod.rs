//! Root filesystem assembly and mounts.
