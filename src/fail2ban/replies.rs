//! Typed views of fail2ban replies (placeholder, being written).
