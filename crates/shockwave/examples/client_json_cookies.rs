//! The client's reqwest-style conveniences against an in-process Shockwave server: a JSON
//! login that sets a session cookie, the cookie store sending it back, query strings,
//! bearer auth, `Response::json` and `error_for_status`.
//!
//! ```sh
//! cargo run -p shockwave --features json,cookies --example client_json_cookies
//! ```

use serde::{Deserialize, Serialize};
use shockwave::client::Client;
use shockwave::server::{handler_fn, Response, Server};

#[derive(Serialize)]
struct Login<'a> {
    user: &'a str,
}

#[derive(Deserialize)]
struct Me {
    user: String,
    query: Option<String>,
    authorization: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |mut cx| match cx.path() {
            // A real server would check a password; this one trusts the JSON body.
            "/login" => {
                let body = cx.body().to_arena().await.unwrap_or(b"");
                let ok = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["user"].as_str().map(|u| u == "ada"))
                    .unwrap_or(false);
                if ok {
                    Response::text("welcome")
                        .header("set-cookie", "session=ada-1234; Path=/; HttpOnly")
                } else {
                    Response::status_code(403)
                }
            }
            "/me" => {
                let cookie = cx.headers().get_str("cookie").unwrap_or("");
                if !cookie.contains("session=ada-1234") {
                    return Response::status_code(401).body("log in first");
                }
                let json = serde_json::json!({
                    "user": "ada",
                    "query": cx.query(),
                    "authorization": cx.headers().get_str("authorization"),
                })
                .to_string();
                Response::json(cx.arena().alloc_str(&json).unwrap_or_default())
            }
            _ => Response::status_code(404),
        }))?;
    let base = format!("http://{}", server.local_addr());

    let client = Client::builder().cookie_store(true).build()?;

    // Before logging in: a 401, turned into an error with the status.
    let err = client
        .get(format!("{base}/me"))
        .send()
        .await?
        .error_for_status()
        .unwrap_err();
    println!("before login: {err} (status {:?})", err.status());

    // Log in with a JSON body; the session cookie goes into the client's store.
    client
        .post(format!("{base}/login"))
        .json(&Login { user: "ada" })
        .send()
        .await?
        .error_for_status()?;

    // The cookie is sent back; the query string and the bearer token too.
    let me: Me = client
        .get(format!("{base}/me"))
        .query(&[("fields", "user"), ("lang", "en")])
        .bearer_auth("example-token")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!(
        "after login: user {}, query {:?}, authorization {:?}",
        me.user, me.query, me.authorization
    );

    server.stop()?;
    Ok(())
}
