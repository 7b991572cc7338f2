//! Roles: what a person signed in to the console may do. The one `Role`
//! of Vigie lives in `vigie-access` (the respond stage checks it too).

pub use vigie_access::Role;
