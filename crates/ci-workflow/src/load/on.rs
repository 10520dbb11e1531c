//! The `on:` section: which events run the workflow, their filters, the
//! cron schedule, and the inputs, outputs and secrets of manually
//! dispatched and reusable workflows.

use super::reader::{Fields, Reader, describe_value, is_identifier};
use crate::diagnostic::did_you_mean;
use crate::model::{
    CallInput, CallOutput, CallSecret, Data, DispatchInput, InputType, On, OrderedMap, Spanned,
    Trigger, TriggerConfig, WorkflowCall,
};
use crate::trigger::{EventFilter, TriggerError, validate_filter};
use crate::yaml::{Node, Position, Value};

/// Events GitHub can trigger a workflow with.
const KNOWN_EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

/// Reads `on:` in its three forms: an event name, a list of event names,
/// or a mapping of event names to their configuration.
pub(super) fn read_on(reader: &mut Reader, key_pos: Position, node: &Node) -> Option<On> {
    let errors_before = reader.error_count();
    let mut triggers = Vec::new();
    match &node.value {
        Value::Scalar(_) => {
            let name = reader.string(node, "\"on\"", "the workflow")?;
            triggers.push(plain_trigger(reader, name));
        }
        Value::Sequence(items) => {
            for item in items {
                if let Some(name) = reader.string(item, "event names under \"on\"", "the workflow")
                {
                    triggers.push(plain_trigger(reader, name));
                }
            }
        }
        Value::Mapping(entries) => {
            for (key, value) in entries {
                let Some(name) = reader.key_string(key, "\"on\"") else {
                    continue;
                };
                check_event_name(reader, name, key.pos);
                if let Some(trigger) = read_trigger(reader, name, key.pos, value) {
                    triggers.push(trigger);
                }
            }
        }
    }

    if triggers.is_empty() && reader.error_count() == errors_before {
        reader.error(key_pos, "\"on\" must name at least one event");
        return None;
    }
    Some(On {
        pos: node.pos,
        triggers,
    })
}

fn plain_trigger(reader: &mut Reader, name: Spanned<String>) -> Trigger {
    check_event_name(reader, &name.value, name.pos);
    if name.value == "schedule" {
        reader.error(
            name.pos,
            "event \"schedule\" needs a list of cron entries, such as \"schedule: [{cron: '0 3 * * *'}]\"",
        );
    }
    let config = match name.value.as_str() {
        "workflow_call" => TriggerConfig::WorkflowCall(WorkflowCall::default()),
        "workflow_dispatch" => TriggerConfig::WorkflowDispatch(OrderedMap::default()),
        _ => TriggerConfig::None,
    };
    Trigger {
        event: name.value,
        pos: name.pos,
        filter: EventFilter::default(),
        config,
    }
}

fn check_event_name(reader: &mut Reader, name: &str, pos: Position) {
    if KNOWN_EVENTS.contains(&name) {
        return;
    }
    let message = match did_you_mean(name, KNOWN_EVENTS.iter().copied()) {
        Some(suggestion) => {
            format!("unknown event \"{name}\" under \"on\", did you mean \"{suggestion}\"?")
        }
        None => format!("unknown event \"{name}\" under \"on\""),
    };
    reader.warning(pos, message);
}

/// Branch, tag and path filter keys. Every event's configuration may
/// name them without an unknown-key warning, because
/// [`validate_filter`] reports the ones an event does not support as
/// errors.
const PATTERN_FILTER_KEYS: [&str; 6] = [
    "branches",
    "branches-ignore",
    "tags",
    "tags-ignore",
    "paths",
    "paths-ignore",
];

/// Returns the keys that the configuration of `event` may have.
fn event_keys(event: &str) -> Vec<&'static str> {
    let specific: &[&str] = match event {
        // `push` has no activity types.
        "push" => &[],
        "workflow_run" => &["types", "workflows"],
        "workflow_dispatch" => &["inputs"],
        "workflow_call" => &["inputs", "outputs", "secrets"],
        _ => &["types"],
    };
    specific
        .iter()
        .copied()
        .chain(PATTERN_FILTER_KEYS)
        .collect()
}

fn read_trigger(reader: &mut Reader, event: &str, pos: Position, node: &Node) -> Option<Trigger> {
    let mut trigger = Trigger {
        event: event.to_string(),
        pos,
        filter: EventFilter::default(),
        config: TriggerConfig::None,
    };
    let context = format!("event \"{event}\"");

    if event == "schedule" {
        trigger.config = TriggerConfig::Schedule(read_schedule(reader, node, pos));
        return Some(trigger);
    }

    let fields = reader.fields(node, &format!("\"{event}\""), &context, &event_keys(event))?;
    trigger.filter = read_filter(reader, event, &fields, &context);
    trigger.config = match event {
        "workflow_dispatch" => {
            TriggerConfig::WorkflowDispatch(read_dispatch_inputs(reader, &fields))
        }
        "workflow_call" => TriggerConfig::WorkflowCall(read_workflow_call(reader, &fields)),
        "workflow_run" => TriggerConfig::WorkflowRun(
            fields
                .get("workflows")
                .map(|(_, n)| reader.string_list(n, "\"workflows\"", &context))
                .unwrap_or_default(),
        ),
        _ => TriggerConfig::None,
    };
    Some(trigger)
}

fn read_filter(reader: &mut Reader, event: &str, fields: &Fields, context: &str) -> EventFilter {
    let mut list = |key: &str| -> Option<Vec<String>> {
        let (_, node) = fields.get(key)?;
        let label = format!("\"{key}\"");
        Some(
            reader
                .string_list(node, &label, context)
                .into_iter()
                .map(|s| s.value)
                .collect(),
        )
    };
    let filter = EventFilter {
        types: list("types"),
        branches: list("branches"),
        branches_ignore: list("branches-ignore"),
        tags: list("tags"),
        tags_ignore: list("tags-ignore"),
        paths: list("paths"),
        paths_ignore: list("paths-ignore"),
    };

    for kind in ["branches", "tags", "paths"] {
        let ignore = format!("{kind}-ignore");
        if let (Some(_), Some((ignore_key, _))) = (fields.get(kind), fields.get(&ignore)) {
            reader.error(
                ignore_key.pos,
                format!(
                    "\"{kind}\" and \"{ignore}\" cannot both be used for {context}; use \"{kind}\" \
                     with \"!\" patterns instead"
                ),
            );
        }
    }
    report_filter_errors(reader, event, fields, &filter);
    filter
}

/// Reports what [`validate_filter`] finds beyond the conflicts reported
/// above: invalid glob patterns, lists of only `!` patterns, and filters
/// the event does not support.
fn report_filter_errors(reader: &mut Reader, event: &str, fields: &Fields, filter: &EventFilter) {
    for error in validate_filter(event, filter) {
        let Some((key, value)) = fields.get(error.key()) else {
            continue;
        };
        let pos = match &error {
            TriggerError::Conflicting { .. } => continue,
            TriggerError::InvalidPattern { index, .. } => value
                .as_sequence()
                .and_then(|items| items.get(*index))
                .map_or(value.pos, |item| item.pos),
            TriggerError::OnlyNegations { .. } => value.pos,
            TriggerError::Unsupported { .. } => key.pos,
        };
        reader.error(pos, error.to_string());
    }
}

fn read_schedule(reader: &mut Reader, node: &Node, pos: Position) -> Vec<Spanned<String>> {
    let context = "event \"schedule\"";
    let Some(items) = node.as_sequence() else {
        reader.type_error(node, "\"schedule\"", context, "a list of \"cron\" entries");
        return Vec::new();
    };
    if items.is_empty() {
        reader.error(pos, "\"schedule\" must contain at least one \"cron\" entry");
    }

    let mut crons = Vec::new();
    for item in items {
        let Some(fields) = reader.fields(item, "a schedule entry", context, &["cron"]) else {
            continue;
        };
        let Some((_, cron_node)) = fields.get("cron") else {
            reader.error(
                item.pos,
                format!("\"cron\" is required in each entry of {context}"),
            );
            continue;
        };
        if let Some(cron) = reader.string(cron_node, "\"cron\"", context) {
            check_cron(reader, &cron);
            crons.push(cron);
        }
    }
    crons
}

/// The five fields of a POSIX cron expression: name, minimum, maximum and
/// the names allowed in place of numbers (counted from the minimum).
const CRON_FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    ),
    (
        "day of week",
        0,
        6,
        &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    ),
];

/// Checks a cron expression: five fields, each a list of `*`, numbers,
/// ranges (`1-5`) and steps (`*/15`, `0-30/10`) within the field's range.
fn check_cron(reader: &mut Reader, cron: &Spanned<String>) {
    let fields: Vec<&str> = cron.value.split_whitespace().collect();
    let problem = if fields.len() != 5 {
        Some(format!("expected 5 fields, found {}", fields.len()))
    } else {
        fields
            .iter()
            .zip(CRON_FIELDS)
            .find_map(|(field, spec)| cron_field_problem(field, spec))
    };
    if let Some(problem) = problem {
        reader.error(
            cron.pos,
            format!(
                "invalid cron expression \"{}\": {problem}; the format is \"minute hour \
                 day-of-month month day-of-week\", such as \"30 5 * * 1-5\"",
                cron.value
            ),
        );
    }
}

/// Returns what is wrong with one cron field, if anything.
fn cron_field_problem(field: &str, spec: (&str, u32, u32, &[&str])) -> Option<String> {
    let (name, min, max, names) = spec;
    let value = |text: &str| -> Option<u32> {
        if let Ok(number) = text.parse::<u32>() {
            return (min..=max).contains(&number).then_some(number);
        }
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|index| min + index as u32)
    };
    let invalid = || Some(format!("invalid {name} \"{field}\" (allowed: {min}-{max})"));

    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step
            && !step.parse::<u32>().is_ok_and(|s| s > 0)
        {
            return invalid();
        }
        if range == "*" {
            continue;
        }
        let ok = match range.split_once('-') {
            Some((low, high)) => matches!((value(low), value(high)), (Some(l), Some(h)) if l <= h),
            None => value(range).is_some(),
        };
        if !ok {
            return invalid();
        }
    }
    None
}

const DISPATCH_INPUT_KEYS: &[&str] = &["description", "required", "default", "type", "options"];
const CALL_INPUT_KEYS: &[&str] = &["description", "required", "default", "type"];

fn read_dispatch_inputs(reader: &mut Reader, fields: &Fields) -> OrderedMap<DispatchInput> {
    let mut inputs = OrderedMap::default();
    let Some((_, node)) = fields.get("inputs") else {
        return inputs;
    };
    let Some(entries) = reader.mapping(node, "\"inputs\"", "event \"workflow_dispatch\"") else {
        return inputs;
    };
    for (key, value) in entries {
        let Some(name) = input_name(reader, key, "workflow_dispatch") else {
            continue;
        };
        let context = format!("input \"{name}\" of \"workflow_dispatch\"");
        let Some(input_fields) = reader.fields(value, "an input", &context, DISPATCH_INPUT_KEYS)
        else {
            continue;
        };
        let input_type =
            read_input_type(reader, &input_fields, &context, true).unwrap_or(InputType::String);
        let options = input_fields
            .get("options")
            .map(|(_, n)| reader.string_list(n, "\"options\"", &context))
            .unwrap_or_default();
        let input = DispatchInput {
            description: description(reader, &input_fields, &context),
            required: required(reader, &input_fields, &context),
            default: input_fields.get("default").map(|(_, n)| reader.data(n)),
            input_type,
            options,
        };
        check_dispatch_input(reader, &input, &input_fields, &context);
        inputs.push(name, key.pos, input);
    }
    inputs
}

fn check_dispatch_input(
    reader: &mut Reader,
    input: &DispatchInput,
    fields: &Fields,
    context: &str,
) {
    if input.input_type == InputType::Choice && input.options.is_empty() {
        let pos = fields.get("type").map_or(fields.pos, |(_, n)| n.pos);
        reader.error(pos, format!("{context} has type choice but no \"options\""));
    }
    if input.input_type != InputType::Choice
        && let Some((key, _)) = fields.get("options")
    {
        reader.warning(
            key.pos,
            format!("\"options\" in {context} is ignored because its type is not choice"),
        );
    }
    if let Some(default) = &input.default {
        check_default(reader, default, input.input_type, context);
        if input.input_type == InputType::Choice
            && !input.options.is_empty()
            && let Some(text) = default.value.as_str()
            && !input.options.iter().any(|option| option.value == text)
        {
            reader.error(
                default.pos,
                format!("default \"{text}\" of {context} is not one of its options"),
            );
        }
    }
}

fn check_default(reader: &mut Reader, default: &Data, input_type: InputType, context: &str) {
    let is_expression = default.value.as_str().is_some_and(|s| s.contains("${{"));
    let matches = match input_type {
        InputType::Boolean => default.value.is_boolean(),
        InputType::Number => default.value.is_number(),
        _ => !default.value.is_array() && !default.value.is_object(),
    };
    if !matches && !is_expression {
        reader.error(
            default.pos,
            format!(
                "default of {context} must be a {} value, found {}",
                input_type.as_str(),
                default.value
            ),
        );
    }
}

fn input_name<'n>(reader: &mut Reader, key: &'n Node, event: &str) -> Option<&'n str> {
    let name = reader.key_string(key, &format!("\"inputs\" of \"{event}\""))?;
    if !is_identifier(name) {
        reader.error(
            key.pos,
            format!(
                "invalid input name \"{name}\": a name must start with a letter or \"_\" and \
                 contain only letters, digits, \"-\" and \"_\""
            ),
        );
    }
    Some(name)
}

fn read_input_type(
    reader: &mut Reader,
    fields: &Fields,
    context: &str,
    dispatch: bool,
) -> Option<InputType> {
    let (_, node) = fields.get("type")?;
    let input_type = match node.as_str() {
        Some("string") => InputType::String,
        Some("boolean") => InputType::Boolean,
        Some("number") => InputType::Number,
        Some("choice") if dispatch => InputType::Choice,
        Some("environment") if dispatch => InputType::Environment,
        _ => {
            let expected = if dispatch {
                "string, boolean, number, choice or environment"
            } else {
                "string, boolean or number"
            };
            reader.error(
                node.pos,
                format!(
                    "\"type\" of {context} must be {expected}, found {}",
                    describe_value(node)
                ),
            );
            return None;
        }
    };
    Some(input_type)
}

fn description(reader: &mut Reader, fields: &Fields, context: &str) -> Option<Spanned<String>> {
    let (_, node) = fields.get("description")?;
    reader.string(node, "\"description\"", context)
}

fn required(reader: &mut Reader, fields: &Fields, context: &str) -> bool {
    fields
        .get("required")
        .and_then(|(_, node)| reader.boolean(node, "\"required\"", context))
        .unwrap_or(false)
}

fn read_workflow_call(reader: &mut Reader, fields: &Fields) -> WorkflowCall {
    let mut call = WorkflowCall::default();
    let event_context = "event \"workflow_call\"";

    if let Some((_, node)) = fields.get("inputs")
        && let Some(entries) = reader.mapping(node, "\"inputs\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = input_name(reader, key, "workflow_call") else {
                continue;
            };
            let context = format!("input \"{name}\" of \"workflow_call\"");
            let Some(input_fields) = reader.fields(value, "an input", &context, CALL_INPUT_KEYS)
            else {
                continue;
            };
            if !input_fields.has("type") {
                reader.error(
                    key.pos,
                    format!("\"type\" is required in {context}: string, boolean or number"),
                );
            }
            let input = CallInput {
                description: description(reader, &input_fields, &context),
                required: required(reader, &input_fields, &context),
                default: input_fields.get("default").map(|(_, n)| reader.data(n)),
                input_type: read_input_type(reader, &input_fields, &context, false)
                    .unwrap_or(InputType::String),
            };
            if let Some(default) = &input.default {
                check_default(reader, default, input.input_type, &context);
            }
            call.inputs.push(name, key.pos, input);
        }
    }

    if let Some((_, node)) = fields.get("outputs")
        && let Some(entries) = reader.mapping(node, "\"outputs\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = reader.key_string(key, "\"outputs\" of \"workflow_call\"") else {
                continue;
            };
            let context = format!("output \"{name}\" of \"workflow_call\"");
            let Some(output_fields) =
                reader.fields(value, "an output", &context, &["description", "value"])
            else {
                continue;
            };
            let Some((_, value_node)) = output_fields.get("value") else {
                reader.error(key.pos, format!("\"value\" is required in {context}"));
                continue;
            };
            let Some(value) = reader.template(value_node, "\"value\"", &context, false) else {
                continue;
            };
            let output = CallOutput {
                description: description(reader, &output_fields, &context),
                value,
            };
            call.outputs.push(name, key.pos, output);
        }
    }

    if let Some((_, node)) = fields.get("secrets")
        && let Some(entries) = reader.mapping(node, "\"secrets\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = reader.key_string(key, "\"secrets\" of \"workflow_call\"") else {
                continue;
            };
            let context = format!("secret \"{name}\" of \"workflow_call\"");
            let Some(secret_fields) =
                reader.fields(value, "a secret", &context, &["description", "required"])
            else {
                continue;
            };
            let secret = CallSecret {
                description: description(reader, &secret_fields, &context),
                required: required(reader, &secret_fields, &context),
            };
            call.secrets.push(name, key.pos, secret);
        }
    }
    call
}
