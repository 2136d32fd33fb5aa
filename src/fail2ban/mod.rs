//! Everything that speaks to fail2ban's control socket: the pickle codec (`pickle`), typed
//! views of replies (`replies`) and the non-blocking command client (`client`).

pub mod pickle;
pub mod replies;
