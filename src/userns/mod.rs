//! User namespaces and id mappings.
