//! HTTPS with a certificate from PEM files, or a generated self-signed one:
//!
//! ```sh
//! cargo run -p shockwave --example tls_server                      # self-signed
//! cargo run -p shockwave --example tls_server -- cert.pem key.pem  # your certificate
//! curl --cacert /tmp/shockwave-example-cert.pem https://localhost:8443/
//! ```

use std::path::Path;

use shockwave::server::{handler_fn, tls, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match args.as_slice() {
        [cert, key] => tls::from_pem_files(Path::new(cert), Path::new(key))?,
        _ => {
            let ss = tls::self_signed(&["localhost", "127.0.0.1"])?;
            let path = std::env::temp_dir().join("shockwave-example-cert.pem");
            std::fs::write(&path, &ss.cert_pem)?;
            println!("self-signed certificate written to {}", path.display());
            ss.config
        }
    };
    println!("tls_server: listening on https://localhost:8443/");
    Server::builder()
        .bind_tls("127.0.0.1:8443".parse()?)
        .tls(config)
        .run(handler_fn(async |cx| {
            let scheme = cx.request().scheme().as_str();
            Response::text(if scheme == "https" {
                "Hello over TLS!"
            } else {
                "Hello!"
            })
        }))?;
    Ok(())
}
