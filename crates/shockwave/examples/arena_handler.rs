//! A handler that does its work in the request's arena: it reads the body into the
//! arena, splits it into words, counts them in an arena vector, and answers with a
//! report formatted into the arena. Nothing is heap-allocated per request, and the
//! borrow checker guarantees nothing outlives the request.
//!
//! `cargo run -p shockwave --example arena_handler`, then
//! `curl --data-binary 'the cat saw the other cat' http://127.0.0.1:8080/words`

use std::fmt::Write as _;

use shockwave::arena::{String as ArenaString, Vec as ArenaVec};
use shockwave::server::{Handler, RequestContext, Response, Server};

struct WordCount;

impl Handler for WordCount {
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        if cx.path() != "/words" {
            return Response::status_code(404);
        }
        let arena = cx.arena();
        let text = match cx.body().to_arena().await {
            Ok(body) => body,
            Err(e) => return Response::new(e.status()),
        };
        // (word, count) pairs in the arena, first-seen order.
        let mut counts: ArenaVec<'a, (&'a [u8], u32)> = ArenaVec::new_in(arena.bump());
        for word in text
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
        {
            match counts.iter_mut().find(|(w, _)| *w == word) {
                Some((_, n)) => *n += 1,
                None => counts.push((word, 1)),
            }
        }
        let mut report = ArenaString::new_in(arena.bump());
        for (word, n) in &counts {
            let _ = writeln!(report, "{} {n}", String::from_utf8_lossy(word));
        }
        let _ = write!(report, "(arena: {} bytes used)", arena.allocated_bytes());
        Response::text(report.into_bump_str())
    }
}

fn main() -> std::io::Result<()> {
    println!("arena_handler: POST text to http://127.0.0.1:8080/words");
    Server::builder()
        .bind("127.0.0.1:8080".parse().unwrap())
        // Bodies are small here, which also bounds the arena vectors below the
        // per-request arena limit (bumpalo collections abort past it).
        .max_body_size(64 * 1024)
        .run(WordCount)
}
