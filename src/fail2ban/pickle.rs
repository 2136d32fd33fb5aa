//! Pickle codec for fail2ban's control socket (placeholder, being written).
