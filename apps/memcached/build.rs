//! Links this user program with libcap's layout (see `libcap-link`).

fn main() {
    libcap_link::user_program();
}
