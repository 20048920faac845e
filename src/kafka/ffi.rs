//! librdkafka admin calls that `rdkafka` 0.39 has no safe wrapper for.
//!
//! ListConsumerGroupOffsets takes one group per call in librdkafka, so every group gets its own
//! request, all in flight at once on one admin queue, and the answers are collected by opaque.

use std::collections::BTreeMap;
use std::ffi::{c_void, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use rdkafka::client::{Client, ClientContext};
use rdkafka_sys as sys;

/// Committed offsets of one group: (topic, partition) -> offset, or why they are unavailable.
pub type GroupOffsets = crate::error::Result<BTreeMap<(String, i32), i64>>;

fn err_string(code: sys::rd_kafka_resp_err_t) -> String {
    // SAFETY: rd_kafka_err2str returns a static, NUL-terminated string for any code.
    unsafe { CStr::from_ptr(sys::rd_kafka_err2str(code)) }
        .to_string_lossy()
        .into_owned()
}

/// Owns the admin queue and options so every exit path frees them.
struct Call {
    queue: *mut sys::rd_kafka_queue_t,
    options: Vec<*mut sys::rd_kafka_AdminOptions_t>,
}

impl Drop for Call {
    fn drop(&mut self) {
        // SAFETY: each pointer was returned by librdkafka's constructor and is freed once.
        unsafe {
            for o in &self.options {
                sys::rd_kafka_AdminOptions_destroy(*o);
            }
            sys::rd_kafka_queue_destroy(self.queue);
        }
    }
}

/// Reads the committed offsets of every group in `groups` (one OffsetFetch each, concurrently).
pub fn list_group_offsets<C: ClientContext>(
    client: &Client<C>,
    groups: &[String],
    timeout: Duration,
) -> Vec<(String, GroupOffsets)> {
    let mut results: Vec<Option<GroupOffsets>> = vec![None; groups.len()];
    if groups.is_empty() {
        return Vec::new();
    }
    let rk = client.native_ptr();
    // SAFETY: rk is a live handle owned by `client`, which outlives this call.
    let mut call = Call {
        queue: unsafe { sys::rd_kafka_queue_new(rk) },
        options: Vec::with_capacity(groups.len()),
    };
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    for (i, group) in groups.iter().enumerate() {
        let Ok(cgroup) = CString::new(group.as_str()) else {
            results[i] = Some(Err("group name contains a NUL byte".into()));
            continue;
        };
        // SAFETY: all pointers are valid for the duration of the calls; librdkafka copies the
        // request, which is then destroyed here; the options live until `call` is dropped.
        unsafe {
            let options = sys::rd_kafka_AdminOptions_new(
                rk,
                sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            );
            let mut errbuf = [0 as std::os::raw::c_char; 256];
            sys::rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errbuf.as_mut_ptr(), errbuf.len());
            sys::rd_kafka_AdminOptions_set_opaque(options, i as *mut c_void);
            call.options.push(options);
            let mut request = sys::rd_kafka_ListConsumerGroupOffsets_new(cgroup.as_ptr(), ptr::null());
            sys::rd_kafka_ListConsumerGroupOffsets(rk, &mut request, 1, options, call.queue);
            sys::rd_kafka_ListConsumerGroupOffsets_destroy_array(&mut request, 1);
        }
    }

    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let mut pending = results.iter().filter(|r| r.is_none()).count();
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // SAFETY: the queue is live; a returned event is destroyed below.
        let ev = unsafe { sys::rd_kafka_queue_poll(call.queue, left.as_millis() as i32) };
        if ev.is_null() {
            continue;
        }
        // SAFETY: `ev` is a live event until rd_kafka_event_destroy; everything read from it
        // is copied into owned Rust values before that.
        let (index, outcome) = unsafe {
            let index = sys::rd_kafka_event_opaque(ev) as usize;
            let outcome = read_offsets_event(ev);
            sys::rd_kafka_event_destroy(ev);
            (index, outcome)
        };
        if let Some(slot) = results.get_mut(index) {
            if slot.is_none() {
                *slot = Some(outcome);
                pending -= 1;
            }
        }
    }
    drop(call);
    groups
        .iter()
        .cloned()
        .zip(results)
        .map(|(g, r)| {
            (
                g,
                r.unwrap_or_else(|| Err(format!("no answer within {}s", timeout.as_secs()).into())),
            )
        })
        .collect()
}

/// # Safety
/// `ev` must be a live event from an admin queue.
unsafe fn read_offsets_event(ev: *mut sys::rd_kafka_event_t) -> GroupOffsets {
    if sys::rd_kafka_event_type(ev) != sys::RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT {
        return Err("unexpected admin event".into());
    }
    let code = sys::rd_kafka_event_error(ev);
    if code != sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        let s = sys::rd_kafka_event_error_string(ev);
        return Err(if s.is_null() {
            err_string(code).into()
        } else {
            CStr::from_ptr(s).to_string_lossy().into_owned().into()
        });
    }
    let result = sys::rd_kafka_event_ListConsumerGroupOffsets_result(ev);
    let mut count = 0usize;
    let groups = sys::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count);
    if count == 0 || groups.is_null() {
        return Err("empty answer".into());
    }
    let group = *groups;
    let error = sys::rd_kafka_group_result_error(group);
    if !error.is_null() {
        return Err(CStr::from_ptr(sys::rd_kafka_error_string(error))
            .to_string_lossy()
            .into_owned()
            .into());
    }
    let list = sys::rd_kafka_group_result_partitions(group);
    let mut offsets = BTreeMap::new();
    if list.is_null() {
        return Ok(offsets);
    }
    let list = &*list;
    for i in 0..list.cnt.max(0) as usize {
        let elem = &*list.elems.add(i);
        if elem.err != sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            continue;
        }
        // A negative offset means "no committed offset" for that partition.
        if elem.offset < 0 {
            continue;
        }
        let topic = CStr::from_ptr(elem.topic).to_string_lossy().into_owned();
        offsets.insert((topic, elem.partition), elem.offset);
    }
    Ok(offsets)
}

/// One event taken from a client's main queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainEvent {
    /// A librdkafka log line (rdkafka routes logs through the main queue).
    Log {
        level: i32,
        facility: String,
        message: String,
    },
    /// Statistics JSON (only when `statistics.interval.ms` is set).
    Stats(String),
    Error(String),
    Other,
}

/// Takes every event waiting on a client's main queue and hands each to `handle`.
///
/// rdkafka delivers logs, statistics and errors through this queue, but only a client that
/// polls it sees them: the cockpit's consumer has no group (nothing polls it) and rdkafka's
/// AdminClient never polls its own, so without this they would pile up for as long as the
/// cockpit runs. Returns how many events were taken.
pub fn drain_main_queue<C: ClientContext>(client: &Client<C>, mut handle: impl FnMut(MainEvent)) -> usize {
    // SAFETY: the handle is live for the call; the queue reference is released below and
    // every event is destroyed after its contents are copied out.
    unsafe {
        let queue = sys::rd_kafka_queue_get_main(client.native_ptr());
        let mut taken = 0;
        // Bounded: events that arrive while draining wait for the next drain.
        let waiting = sys::rd_kafka_queue_length(queue);
        while taken < waiting {
            let ev = sys::rd_kafka_queue_poll(queue, 0);
            if ev.is_null() {
                break;
            }
            let text = |p: *const std::os::raw::c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            let event = match sys::rd_kafka_event_type(ev) {
                sys::RD_KAFKA_EVENT_LOG => {
                    let (mut fac, mut msg, mut level) = (ptr::null(), ptr::null(), 0);
                    sys::rd_kafka_event_log(ev, &mut fac, &mut msg, &mut level);
                    MainEvent::Log {
                        level,
                        facility: text(fac),
                        message: text(msg),
                    }
                }
                sys::RD_KAFKA_EVENT_STATS => MainEvent::Stats(text(sys::rd_kafka_event_stats(ev))),
                sys::RD_KAFKA_EVENT_ERROR => MainEvent::Error(text(sys::rd_kafka_event_error_string(ev))),
                _ => MainEvent::Other,
            };
            sys::rd_kafka_event_destroy(ev);
            taken += 1;
            handle(event);
        }
        sys::rd_kafka_queue_destroy(queue);
        taken
    }
}
