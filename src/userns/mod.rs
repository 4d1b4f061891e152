//! User namespaces and id mappings.

/// Placeholder until the launch path lands.
pub fn enter() -> anyhow::Result<()> {
    Ok(())
}

/// Placeholder until the launch path lands.
pub fn describe_mapping() -> String {
    String::new()
}
