//! The administration commands: users, tokens, and the pysecworks import.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use secworks::auth::{
    MAX_SERVICE_TOKEN_TTL, MIN_SERVICE_TOKEN_TTL, Passwords, Scopes, ServiceTokenRequest, UserAdmin,
};
use secworks::config::DatabaseArgs;
use secworks::{store, timestamp};

/// Scopes as the command line takes them: names separated by commas (or spaces).
fn parse_scopes(text: &str) -> Result<Scopes, String> {
    Scopes::parse(text, &[',', ' ']).map_err(|e| e.to_string())
}

/// A service token's lifetime: `90d`, `12h`, `30m` (as watchlist intervals are written).
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text.trim())
        .map_err(|_| format!("{text:?} is not a duration: write it as 90d, 12h or 30m"))?;
    if !(MIN_SERVICE_TOKEN_TTL..=MAX_SERVICE_TOKEN_TTL).contains(&ttl) {
        return Err(format!(
            "{text:?} is not allowed: a service token lives 1 minute to 366 days"
        ));
    }
    Ok(ttl)
}

#[derive(Debug, clap::Subcommand)]
pub enum UserAction {
    /// Create a user; asks for the password.
    Add {
        username: String,
        /// What the user's tokens may do: read (queries), lookup (enqueue), monitor
        /// (watchlists and webhooks), admin; separated by commas.
        #[arg(long, value_name = "SCOPE,SCOPE", value_parser = parse_scopes, default_value = "read,lookup,monitor")]
        scopes: Scopes,
    },
    /// Show or change the scopes a user holds; new scopes refuse their earlier tokens.
    Scopes {
        username: String,
        /// The scopes the user is to hold, separated by commas; without it, print them.
        #[arg(long, value_name = "SCOPE,SCOPE", value_parser = parse_scopes)]
        set: Option<Scopes>,
    },
    /// Set a user's password; their earlier tokens are refused from then on.
    Passwd { username: String },
    /// Delete a user; their tokens are refused from then on.
    Remove { username: String },
    /// List the users.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Issue a service token for automation and print it (on standard output, alone); it is
    /// recorded by id, name, scopes and expiry, never itself. Set SECWORKS_TOKEN_KEY as the
    /// server has it, if it has it.
    Issue {
        /// The user the token speaks for.
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// What the token may do, separated by commas; default: every scope the user holds.
        #[arg(long, value_name = "SCOPE,SCOPE", value_parser = parse_scopes)]
        scope: Option<Scopes>,
        /// How long it is valid: 1m to 366d, e.g. 90d or 12h.
        #[arg(long, value_name = "DURATION", value_parser = parse_ttl, default_value = "90d")]
        ttl: Duration,
        /// A label for `token list`, e.g. the job that uses it.
        #[arg(long)]
        name: String,
    },
    /// List the service tokens: id, name, user, scopes, expiry, and whether revoked.
    List,
    /// Revoke a service token by its id (see `token list`); it is refused from then on.
    Revoke { id: i64 },
    /// Refuse every token issued to a user until now; later logins work as before.
    RevokeAll { username: String },
}

/// Opens the database `DATABASE_URL` names, after saying on standard error which one it is
/// (a SQLite file by its absolute path). A missing SQLite file is an error unless `create`:
/// `secworks user add` run from another folder must not quietly make a second `app.db`.
async fn open_store(
    database: &DatabaseArgs,
    create: bool,
) -> anyhow::Result<std::sync::Arc<dyn store::Store>> {
    let url = &database.database_url;
    let shown = store::shown_url(url);
    let missing = store::sqlite_file(url).filter(|file| !file.exists());
    if let Some(file) = &missing {
        anyhow::ensure!(
            create,
            "DATABASE_URL: no database at {}; nothing was changed. Point DATABASE_URL at the \
             server's database (a relative path is taken from the current folder), or start \
             the server once to create it",
            file.display()
        );
        eprintln!("database: {shown} (new)");
    } else {
        eprintln!("database: {shown}");
    }
    let opened = if create {
        store::connect(url).await
    } else {
        store::connect_existing(url).await
    };
    opened.with_context(|| format!("cannot open the database {shown} (DATABASE_URL)"))
}

async fn admin(database: &DatabaseArgs) -> anyhow::Result<UserAdmin> {
    let store = open_store(database, false).await?;
    let passwords = Passwords::new().context("cannot prepare password hashing")?;
    Ok(UserAdmin::new(store, passwords))
}

pub async fn user(database: &DatabaseArgs, action: UserAction) -> anyhow::Result<ExitCode> {
    let admin = admin(database).await?;
    let mut out = std::io::stdout().lock();
    match action {
        UserAction::Add { username, scopes } => {
            secworks::auth::check_name(&username)?;
            let password = read_new_password(&username)?;
            admin.add(&username, &password, scopes).await?;
            writeln!(out, "added user {username} with the scopes {scopes}")?;
        }
        UserAction::Scopes {
            username,
            set: Some(scopes),
        } => {
            admin.set_scopes(&username, scopes).await?;
            writeln!(
                out,
                "{username} now holds the scopes {scopes}; their earlier tokens are refused"
            )?;
        }
        UserAction::Scopes {
            username,
            set: None,
        } => {
            let user = admin
                .list()
                .await?
                .into_iter()
                .find(|u| u.username == username)
                .ok_or_else(|| anyhow::anyhow!("there is no user {username:?}"))?;
            writeln!(out, "{}", Scopes::from_stored(&user.scopes))?;
        }
        UserAction::Passwd { username } => {
            let password = read_new_password(&username)?;
            admin.set_password(&username, &password).await?;
            writeln!(
                out,
                "changed the password of {username}; their earlier tokens are refused"
            )?;
        }
        UserAction::Remove { username } => {
            admin.remove(&username).await?;
            writeln!(out, "removed user {username}; their tokens are refused")?;
        }
        UserAction::List => {
            writeln!(out, "USER\tCREATED\tTOKENS VALID FROM\tSCOPES")?;
            for user in admin.list().await? {
                let created = timestamp::format(user.created_at);
                let from = user
                    .tokens_not_before
                    .map_or_else(|| "-".to_owned(), timestamp::format);
                let scopes = Scopes::from_stored(&user.scopes);
                writeln!(out, "{}\t{created}\t{from}\t{scopes}", user.username)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn token(database: &DatabaseArgs, action: TokenAction) -> anyhow::Result<ExitCode> {
    let admin = admin(database).await?;
    let mut out = std::io::stdout().lock();
    match action {
        TokenAction::Issue {
            user,
            scope,
            ttl,
            name,
        } => {
            // The server's key setting, so that the server accepts the token.
            let key = match std::env::var("SECWORKS_TOKEN_KEY") {
                Ok(text) => Some(secworks::config::parse_token_key(&text)?),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    anyhow::bail!("SECWORKS_TOKEN_KEY is not valid UTF-8")
                }
            };
            let (issued, id) = admin
                .issue_service_token(ServiceTokenRequest {
                    username: &user,
                    name: &name,
                    scopes: scope,
                    ttl,
                    key,
                })
                .await?;
            // The token alone on standard output, for `TOKEN=$(secworks token issue ...)`.
            writeln!(out, "{}", issued.token)?;
            eprintln!(
                "issued service token {id} ({name}) for {user} with the scopes {}, valid until {}",
                issued.scopes,
                timestamp::format(issued.expires_at)
            );
        }
        TokenAction::List => {
            writeln!(out, "ID\tNAME\tUSER\tSCOPES\tEXPIRES\tSTATE")?;
            let now = timestamp::now();
            for token in admin.service_tokens().await? {
                let state = if token.revoked {
                    "revoked"
                } else if token.expires_at < now {
                    "expired"
                } else {
                    "valid"
                };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{state}",
                    token.id,
                    token.name,
                    token.username,
                    Scopes::from_stored(&token.scopes),
                    timestamp::format(token.expires_at)
                )?;
            }
        }
        TokenAction::Revoke { id } => {
            let token = admin.revoke_service_token(id).await?;
            writeln!(
                out,
                "revoked service token {id} ({}) of {}; it is refused from now on",
                token.name, token.username
            )?;
        }
        TokenAction::RevokeAll { username } => {
            admin.revoke_all_tokens(&username).await?;
            writeln!(out, "every token issued to {username} until now is refused")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn import_pysecworks(database: &DatabaseArgs, source: &Path) -> anyhow::Result<ExitCode> {
    // Creates a missing database on purpose: importing into a fresh one, before the server's
    // first start adds its default user, is how a pysecworks deployment moves over.
    let store = open_store(database, true).await?;
    let report = secworks::import::import_pysecworks(source, store.as_ref()).await?;
    writeln!(
        std::io::stdout(),
        "imported {} of {} users and {} of {} lookups from {} (the rest were already here)",
        report.added.users,
        report.users_read,
        report.added.lookups,
        report.lookups_read,
        source.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// From the terminal, asked twice without echo; or the first line of standard input.
fn read_new_password(username: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {username}: "))?;
        let again = rpassword::prompt_password("Repeat it: ")?;
        anyhow::ensure!(first == again, "the passwords differ; nothing was changed");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input; nothing was changed"
    );
    Ok(password.to_owned())
}
