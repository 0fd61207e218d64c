//! The integration suite: one binary, real parts. Docker tests talk to the
//! engine on this machine (containers of the FROM-scratch `memhog` image);
//! nothing about Docker is mocked. A missing engine fails the suite, it never
//! skips it.

mod faults;
mod mem_status;
mod runbooks;
mod support;
