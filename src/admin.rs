//! The administration commands: users, tokens, and the pysecworks import.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use secworks::auth::{Passwords, UserAdmin};
use secworks::config::DatabaseArgs;
use secworks::{store, timestamp};

#[derive(Debug, clap::Subcommand)]
pub enum UserAction {
    /// Create a user; asks for the password.
    Add { username: String },
    /// Set a user's password; their earlier tokens are refused from then on.
    Passwd { username: String },
    /// Delete a user; their tokens are refused from then on.
    Remove { username: String },
    /// List the users.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
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
        UserAction::Add { username } => {
            secworks::auth::check_name(&username)?;
            let password = read_new_password(&username)?;
            admin.add(&username, &password).await?;
            writeln!(out, "added user {username}")?;
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
            writeln!(out, "USER\tCREATED\tTOKENS VALID FROM")?;
            for user in admin.list().await? {
                let created = timestamp::format(user.created_at);
                let from = user
                    .tokens_not_before
                    .map_or_else(|| "-".to_owned(), timestamp::format);
                writeln!(out, "{}\t{created}\t{from}", user.username)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn token(database: &DatabaseArgs, action: TokenAction) -> anyhow::Result<ExitCode> {
    let admin = admin(database).await?;
    match action {
        TokenAction::RevokeAll { username } => {
            admin.revoke_all_tokens(&username).await?;
            writeln!(
                std::io::stdout(),
                "every token issued to {username} until now is refused"
            )?;
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
