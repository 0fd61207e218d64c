//! The limits Discord enforces with 400 "Invalid Form Body" (50035) or
//! "Cannot send an empty message" (50006), so a bot that would be rejected
//! by Discord is rejected by the emulator too: message length, embed and
//! component limits, command names and descriptions, autocomplete choices.

use std::collections::HashSet;

use serde_json::Value;

use super::payloads::{error, form_error};

type Check = Result<(), Value>;

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn max_len(path: &str, v: &Value, max: usize) -> Check {
    if chars(v) > max {
        let msg = format!("Must be {max} or fewer in length.");
        return Err(form_error(path, "BASE_TYPE_MAX_LENGTH", &msg));
    }
    Ok(())
}

fn bad_len(path: &str, v: &Value, min: usize, max: usize) -> Check {
    let n = chars(v);
    if n < min || n > max {
        let msg = format!("Must be between {min} and {max} in length.");
        return Err(form_error(path, "BASE_TYPE_BAD_LENGTH", &msg));
    }
    Ok(())
}

fn max_items(path: &str, v: &Value, max: usize) -> Check {
    if v.as_array().map_or(0, Vec::len) > max {
        let msg = format!("Must be {max} or fewer in length.");
        return Err(form_error(path, "BASE_TYPE_MAX_LENGTH", &msg));
    }
    Ok(())
}

fn items(v: &Value) -> impl Iterator<Item = (usize, &Value)> {
    v.as_array().into_iter().flatten().enumerate()
}

/// A message as it would be stored (after create or edit).
pub(super) fn message(m: &Value) -> Check {
    max_len("content", &m["content"], 2000)?;
    max_items("embeds", &m["embeds"], 10)?;
    let mut total = 0;
    for (i, e) in items(&m["embeds"]) {
        let p = |f: &str| format!("embeds.{i}.{f}");
        max_len(&p("title"), &e["title"], 256)?;
        max_len(&p("description"), &e["description"], 4096)?;
        max_len(&p("footer.text"), &e["footer"]["text"], 2048)?;
        max_len(&p("author.name"), &e["author"]["name"], 256)?;
        max_items(&p("fields"), &e["fields"], 25)?;
        for (j, f) in items(&e["fields"]) {
            bad_len(&p(&format!("fields.{j}.name")), &f["name"], 1, 256)?;
            bad_len(&p(&format!("fields.{j}.value")), &f["value"], 1, 1024)?;
            total += chars(&f["name"]) + chars(&f["value"]);
        }
        total += chars(&e["title"])
            + chars(&e["description"])
            + chars(&e["footer"]["text"])
            + chars(&e["author"]["name"]);
    }
    if total > 6000 {
        return Err(form_error(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    components(&m["components"])?;
    let empty = |k: &str| m[k].as_array().is_none_or(Vec::is_empty);
    if chars(&m["content"]) == 0
        && empty("embeds")
        && empty("attachments")
        && empty("components")
        && m.get("poll").is_none()
    {
        return Err(error(50006, "Cannot send an empty message"));
    }
    Ok(())
}

fn components(rows: &Value) -> Check {
    max_items("components", rows, 5)?;
    let mut ids = HashSet::new();
    for (i, row) in items(rows) {
        let p = format!("components.{i}");
        if row["type"] != 1 {
            return Err(form_error(
                &format!("{p}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1}.",
            ));
        }
        max_items(&format!("{p}.components"), &row["components"], 5)?;
        for (j, c) in items(&row["components"]) {
            let p = format!("{p}.components.{j}");
            let link = c["type"] == 2 && c["style"] == 5;
            if link {
                if c["url"].as_str().is_none() {
                    return Err(form_error(
                        &format!("{p}.url"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ));
                }
            } else {
                bad_len(&format!("{p}.custom_id"), &c["custom_id"], 1, 100)?;
                let id = c["custom_id"].as_str().unwrap_or_default();
                if !ids.insert(id.to_string()) {
                    return Err(form_error(
                        &format!("{p}.custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    ));
                }
            }
            max_len(&format!("{p}.label"), &c["label"], 80)?;
            max_items(&format!("{p}.options"), &c["options"], 25)?;
        }
    }
    Ok(())
}

/// A lowercase name of letters, digits, `-` and `_` (chat input commands
/// and their options).
fn slash_name(path: &str, v: &Value) -> Check {
    let name = v.as_str().unwrap_or_default();
    let ok = (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| (c.is_alphanumeric() || c == '-' || c == '_') && !c.is_uppercase());
    if !ok {
        return Err(form_error(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            &format!("Command name is invalid: {name:?}"),
        ));
    }
    Ok(())
}

/// A bulk overwrite (or a single command as a one-element list).
pub(super) fn commands(list: &[Value]) -> Check {
    if list.len() > 100 {
        return Err(form_error(
            "",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let kind = c["type"].as_u64().unwrap_or(1);
        if kind == 1 {
            slash_name(&format!("{i}.name"), &c["name"])?;
            bad_len(&format!("{i}.description"), &c["description"], 1, 100)?;
        } else {
            bad_len(&format!("{i}.name"), &c["name"], 1, 32)?;
        }
        if !seen.insert((kind, c["name"].as_str().unwrap_or_default().to_string())) {
            return Err(form_error(
                &format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            ));
        }
        options(&format!("{i}.options"), &c["options"], 0)?;
    }
    Ok(())
}

fn options(path: &str, opts: &Value, depth: usize) -> Check {
    max_items(path, opts, 25)?;
    let list = opts.as_array().cloned().unwrap_or_default();
    let subs = list
        .iter()
        .filter(|o| matches!(o["type"].as_u64(), Some(1 | 2)))
        .count();
    if subs != 0 && subs != list.len() {
        return Err(form_error(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all \
             other types",
        ));
    }
    let mut optional_seen = false;
    for (j, o) in list.iter().enumerate() {
        let p = format!("{path}.{j}");
        slash_name(&format!("{p}.name"), &o["name"])?;
        bad_len(&format!("{p}.description"), &o["description"], 1, 100)?;
        let kind = o["type"].as_u64().unwrap_or(0);
        // A group may hold sub-commands only; a sub-command no nesting.
        if (kind == 2 && depth > 0) || (kind == 1 && depth > 1) {
            return Err(form_error(
                &format!("{p}.type"),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Invalid nesting",
            ));
        }
        if matches!(kind, 1 | 2) {
            options(&format!("{p}.options"), &o["options"], depth + 1)?;
            continue;
        }
        let required = o["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            return Err(form_error(
                &p,
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            ));
        }
        optional_seen |= !required;
        let choices = &o["choices"];
        if o["autocomplete"] == true && choices.as_array().is_some_and(|c| !c.is_empty()) {
            return Err(form_error(
                &format!("{p}.autocomplete"),
                "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be set for options with choices",
            ));
        }
        autocomplete_choices(&format!("{p}.choices"), choices)?;
    }
    Ok(())
}

/// Choices of an option, or of an autocomplete answer (type 8).
pub(super) fn autocomplete_choices(path: &str, choices: &Value) -> Check {
    max_items(path, choices, 25)?;
    for (k, ch) in items(choices) {
        bad_len(&format!("{path}.{k}.name"), &ch["name"], 1, 100)?;
        if ch["value"].is_string() {
            max_len(&format!("{path}.{k}.value"), &ch["value"], 100)?;
        } else if !ch["value"].is_number() {
            return Err(form_error(
                &format!("{path}.{k}.value"),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ));
        }
    }
    Ok(())
}
