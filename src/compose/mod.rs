//! `berth compose`: compose files read as Docker Compose v2 reads them.
pub mod dotenv;
pub mod node;
pub mod template;
pub mod yaml;
