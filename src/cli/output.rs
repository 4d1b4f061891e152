//! Output helpers: tables, --format templates.
