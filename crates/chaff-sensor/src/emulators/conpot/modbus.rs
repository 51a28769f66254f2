//! Modbus TCP on 502: the PLC's data tables behind the MBAP framing (Modbus Application
//! Protocol v1.1b3, Modbus Messaging on TCP/IP v1.0b).
//!
//! Served: read coils (1), discrete inputs (2), holding registers (3) and input registers
//! (4); write single coil (5) and register (6), multiple coils (15) and registers (16); and
//! Read Device Identification (43 / MEI 14), which names the device as the Conpot default
//! template does (Siemens, SIMATIC, S7-200). Any other function gets exception 01 (illegal
//! function); a bad quantity or byte count exception 03, an address outside a table
//! exception 02, checked in that order as the specification orders them. Every unit id
//! reaches the same tables, as on a Modbus TCP server that ignores the unit id.
//!
//! The tables start with values stable per decky (coil and input states, analog readings in
//! the S7 range 0–27648, a few set points); writes change them for every later client, as on
//! a PLC. Every request is recorded as `request`, with its unit, function, address range and
//! written values, and the exception it got.
//!
//! A frame is the 7-byte MBAP header and a PDU of at most [`MAX_PDU`] bytes. A header whose
//! length field cannot frame a PDU (another protocol's bytes, such as an HTTP request) gets
//! the exception for its function byte, as a device parsing it would answer, and the
//! connection is closed, its framing lost.

use std::io;
use std::sync::{Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};
use crate::persona::decky_rng;

/// Largest PDU (function code and data): a 260-byte ADU less the MBAP header and unit id.
pub const MAX_PDU: usize = 253;

/// Sizes of the four tables (addresses `0..size`).
const COILS: usize = 128;
const DISCRETE_INPUTS: usize = 128;
const INPUT_REGISTERS: usize = 32;
const HOLDING_REGISTERS: usize = 256;

/// Largest quantities one request may read or write (the specification's limits).
const MAX_READ_BITS: u16 = 2000;
const MAX_READ_REGISTERS: u16 = 125;
const MAX_WRITE_BITS: u16 = 1968;
const MAX_WRITE_REGISTERS: u16 = 123;

/// Exception codes.
const ILLEGAL_FUNCTION: u8 = 1;
const ILLEGAL_DATA_ADDRESS: u8 = 2;
const ILLEGAL_DATA_VALUE: u8 = 3;

/// Read Device Identification: its MEI type, and the conformity level answered (basic
/// identification, stream and individual access).
const MEI_DEVICE_ID: u8 = 0x0e;
const CONFORMITY: u8 = 0x81;

/// The basic identification objects 0, 1 and 2: VendorName, ProductCode, MajorMinorRevision.
const IDENTITY: [&str; 3] = ["Siemens", "SIMATIC", "S7-200"];

/// The PLC's data tables.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tables {
    coils: Vec<bool>,
    discrete_inputs: Vec<bool>,
    input_registers: Vec<u16>,
    holding_registers: Vec<u16>,
}

impl Tables {
    fn for_decky(decky: &str) -> Tables {
        let mut rng = decky_rng(decky, "modbus-tables");
        let coils = (0..COILS).map(|_| rng.bool()).collect();
        let discrete_inputs = (0..DISCRETE_INPUTS).map(|_| rng.bool()).collect();
        let input_registers = (0..INPUT_REGISTERS).map(|_| rng.u16(0..=27_648)).collect();
        let holding_registers =
            (0..HOLDING_REGISTERS).map(|i| if i < 16 { rng.u16(0..=1000) } else { 0 }).collect();
        Tables { coils, discrete_inputs, input_registers, holding_registers }
    }
}

/// The Modbus server of one decky.
pub struct Modbus {
    tables: Mutex<Tables>,
}

/// The answer to one request: its event's fields and the response PDU.
struct Outcome {
    fields: Fields,
    pdu: Vec<u8>,
}

impl Modbus {
    pub fn new(decky: &str) -> Modbus {
        Modbus { tables: Mutex::new(Tables::for_decky(decky)) }
    }

    /// Serves Modbus TCP frames until the client closes.
    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        // The MBAP header and the function code.
        let mut head = [0u8; 8];
        let mut data = Vec::with_capacity(MAX_PDU);
        loop {
            match stream.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(EndReason::Eof),
                Err(e) => return Err(e),
            }
            let length = usize::from(u16::from_be_bytes([head[4], head[5]]));
            let (unit, function) = (head[6], head[7]);
            // `length` counts the unit id and the PDU.
            let framed = length.checked_sub(2).filter(|&n| n < MAX_PDU);
            let outcome = match framed {
                Some(n) => {
                    data.resize(n, 0);
                    match stream.read_exact(&mut data).await {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(EndReason::Eof),
                        Err(e) => return Err(e),
                    }
                    self.execute(function, &data)
                }
                None => unframed(function),
            };
            session.record("request", base_fields(unit, function).merge(outcome.fields));
            stream.write_all(&adu(&head, &outcome.pdu)).await?;
            if framed.is_none() {
                return Ok(EndReason::Closed);
            }
        }
    }

    /// Carries out one request: `function` with its `data`.
    fn execute(&self, function: u8, data: &[u8]) -> Outcome {
        match function {
            1..=4 => self.read(function, data),
            5 | 6 => self.write_single(function, data),
            15 | 16 => self.write_multiple(function, data),
            43 => device_identification(data),
            _ => exception(function, Fields::new(), ILLEGAL_FUNCTION),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self, function: u8, data: &[u8]) -> Outcome {
        let Some((address, quantity)) = two_words(data) else {
            return exception(function, Fields::new(), ILLEGAL_DATA_VALUE);
        };
        let fields = Fields::new().num("address", address.into()).num("quantity", quantity.into());
        let bits = function <= 2;
        let max = if bits { MAX_READ_BITS } else { MAX_READ_REGISTERS };
        if quantity == 0 || quantity > max {
            return exception(function, fields, ILLEGAL_DATA_VALUE);
        }
        let range = usize::from(address)..usize::from(address) + usize::from(quantity);
        let tables = self.tables();
        let mut pdu = vec![function];
        let found = match function {
            1 => tables.coils.get(range).map(|bits| push_bits(&mut pdu, bits)),
            2 => tables.discrete_inputs.get(range).map(|bits| push_bits(&mut pdu, bits)),
            3 => tables.holding_registers.get(range).map(|words| push_words(&mut pdu, words)),
            _ => tables.input_registers.get(range).map(|words| push_words(&mut pdu, words)),
        };
        match found {
            Some(()) => Outcome { fields, pdu },
            None => exception(function, fields, ILLEGAL_DATA_ADDRESS),
        }
    }

    fn write_single(&self, function: u8, data: &[u8]) -> Outcome {
        let Some((address, value)) = two_words(data) else {
            return exception(function, Fields::new(), ILLEGAL_DATA_VALUE);
        };
        let fields = Fields::new().num("address", address.into()).num("quantity", 1);
        let mut tables = self.tables();
        let stored = if function == 5 {
            let on = match value {
                0xff00 => true,
                0x0000 => false,
                _ => return exception(function, fields.num("value", value.into()), ILLEGAL_DATA_VALUE),
            };
            tables.coils.get_mut(usize::from(address)).map(|coil| *coil = on)
        } else {
            tables.holding_registers.get_mut(usize::from(address)).map(|register| *register = value)
        };
        let fields = fields.value("values", write_values(function, &[value]));
        match stored {
            // The response echoes the request.
            Some(()) => Outcome { fields, pdu: [&[function][..], data].concat() },
            None => exception(function, fields, ILLEGAL_DATA_ADDRESS),
        }
    }

    fn write_multiple(&self, function: u8, data: &[u8]) -> Outcome {
        let Some((address, quantity)) = two_words(data.get(..4).unwrap_or_default()) else {
            return exception(function, Fields::new(), ILLEGAL_DATA_VALUE);
        };
        let fields = Fields::new().num("address", address.into()).num("quantity", quantity.into());
        let coils = function == 15;
        let (max, expected_bytes) = if coils {
            (MAX_WRITE_BITS, usize::from(quantity).div_ceil(8))
        } else {
            (MAX_WRITE_REGISTERS, usize::from(quantity) * 2)
        };
        let payload =
            data.get(5..).filter(|p| data[4] as usize == expected_bytes && p.len() == expected_bytes);
        let Some(payload) = payload.filter(|_| quantity > 0 && quantity <= max) else {
            return exception(function, fields, ILLEGAL_DATA_VALUE);
        };
        let range = usize::from(address)..usize::from(address) + usize::from(quantity);
        let mut tables = self.tables();
        let (stored, fields) = if coils {
            let bits: Vec<bool> =
                (0..usize::from(quantity)).map(|i| payload[i / 8] >> (i % 8) & 1 == 1).collect();
            let recorded = bits.iter().map(|&b| u16::from(b)).collect::<Vec<_>>();
            let stored = tables.coils.get_mut(range).map(|slots| slots.copy_from_slice(&bits));
            (stored, fields.value("values", write_values(function, &recorded)))
        } else {
            let words: Vec<u16> = payload.chunks_exact(2).map(|w| u16::from_be_bytes([w[0], w[1]])).collect();
            let stored = tables.holding_registers.get_mut(range).map(|slots| slots.copy_from_slice(&words));
            (stored, fields.value("values", write_values(function, &words)))
        };
        match stored {
            Some(()) => Outcome { fields, pdu: [&[function][..], &data[..4]].concat() },
            None => exception(function, fields, ILLEGAL_DATA_ADDRESS),
        }
    }
}

/// The common fields of a `request` event.
fn base_fields(unit: u8, function: u8) -> Fields {
    Fields::new()
        .num("unit", unit.into())
        .num("function", function.into())
        .text("function_name", function_name(function))
}

/// The answer to a header whose length frames no PDU: the exception a device would give the
/// function byte it read.
fn unframed(function: u8) -> Outcome {
    let code = match function {
        1..=6 | 15 | 16 | 43 => ILLEGAL_DATA_VALUE,
        _ => ILLEGAL_FUNCTION,
    };
    exception(function, Fields::new().flag("malformed", true), code)
}

fn exception(function: u8, fields: Fields, code: u8) -> Outcome {
    Outcome { fields: fields.num("exception", code.into()), pdu: vec![function | 0x80, code] }
}

/// The response frame: the request's transaction and protocol ids, the length, its unit id.
fn adu(request_head: &[u8; 8], pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(7 + pdu.len());
    out.extend_from_slice(&request_head[..4]);
    out.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    out.push(request_head[6]);
    out.extend_from_slice(pdu);
    out
}

/// Two big-endian words, when `data` is exactly that.
fn two_words(data: &[u8]) -> Option<(u16, u16)> {
    match data {
        &[a, b, c, d] => Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))),
        _ => None,
    }
}

/// A byte count, then the bits packed eight to a byte, first bit lowest.
fn push_bits(pdu: &mut Vec<u8>, bits: &[bool]) {
    let bytes = bits.len().div_ceil(8);
    pdu.push(bytes as u8);
    pdu.extend((0..bytes).map(|i| {
        bits.iter().skip(i * 8).take(8).enumerate().fold(0u8, |byte, (bit, &on)| byte | (u8::from(on) << bit))
    }));
}

/// A byte count, then the words big-endian.
fn push_words(pdu: &mut Vec<u8>, words: &[u16]) {
    pdu.push((words.len() * 2) as u8);
    pdu.extend(words.iter().flat_map(|w| w.to_be_bytes()));
}

/// Written values for the event: register values as numbers, coils as a string of 0 and 1.
fn write_values(function: u8, values: &[u16]) -> serde_json::Value {
    match function {
        5 => serde_json::Value::from(values.first().map_or("0", |&v| if v == 0 { "0" } else { "1" })),
        15 => values.iter().map(|v| if *v == 0 { '0' } else { '1' }).collect::<String>().into(),
        _ => values.iter().map(|&v| serde_json::Value::from(v)).collect::<Vec<_>>().into(),
    }
}

/// Read Device Identification (MEI 14): the basic objects, from the requested one on for
/// stream access (codes 1–3), or the one requested (code 4).
fn device_identification(data: &[u8]) -> Outcome {
    let function = 43;
    let &[mei, code, object] = data else {
        let wrong_mei = data.first().is_some_and(|&mei| mei != MEI_DEVICE_ID);
        return exception(
            function,
            Fields::new(),
            if wrong_mei { ILLEGAL_FUNCTION } else { ILLEGAL_DATA_VALUE },
        );
    };
    let fields =
        Fields::new().num("mei", mei.into()).num("read_code", code.into()).num("object_id", object.into());
    if mei != MEI_DEVICE_ID {
        return exception(function, fields, ILLEGAL_FUNCTION);
    }
    let objects = match code {
        1..=3 if usize::from(object) < IDENTITY.len() => usize::from(object)..IDENTITY.len(),
        // An unknown object restarts the stream at object 0.
        1..=3 => 0..IDENTITY.len(),
        4 if usize::from(object) < IDENTITY.len() => usize::from(object)..usize::from(object) + 1,
        4 => return exception(function, fields, ILLEGAL_DATA_ADDRESS),
        _ => return exception(function, fields, ILLEGAL_DATA_VALUE),
    };
    let mut pdu = vec![function, MEI_DEVICE_ID, code, CONFORMITY, 0x00, 0x00, objects.len() as u8];
    for id in objects {
        pdu.extend_from_slice(&[id as u8, IDENTITY[id].len() as u8]);
        pdu.extend_from_slice(IDENTITY[id].as_bytes());
    }
    Outcome { fields, pdu }
}

fn function_name(function: u8) -> &'static str {
    match function {
        1 => "read_coils",
        2 => "read_discrete_inputs",
        3 => "read_holding_registers",
        4 => "read_input_registers",
        5 => "write_single_coil",
        6 => "write_single_register",
        7 => "read_exception_status",
        8 => "diagnostics",
        11 => "get_comm_event_counter",
        15 => "write_multiple_coils",
        16 => "write_multiple_registers",
        17 => "report_server_id",
        20 => "read_file_record",
        21 => "write_file_record",
        22 => "mask_write_register",
        23 => "read_write_multiple_registers",
        24 => "read_fifo_queue",
        43 => "encapsulated_interface",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modbus() -> Modbus {
        Modbus::new("plc-01")
    }

    fn pdu(outcome: Outcome) -> Vec<u8> {
        outcome.pdu
    }

    #[test]
    fn reads_answer_stable_values() {
        let coils = pdu(modbus().execute(1, &[0, 0, 0, 10]));
        assert_eq!(coils.len(), 4);
        assert_eq!(&coils[..2], &[1, 2]);
        assert_eq!(coils, pdu(modbus().execute(1, &[0, 0, 0, 10])));
        assert_ne!(Tables::for_decky("plc-01"), Tables::for_decky("plc-02"));
        let registers = pdu(modbus().execute(4, &[0, 0, 0, 3]));
        assert_eq!(&registers[..2], &[4, 6]);
        assert!(registers[2..].chunks(2).all(|w| u16::from_be_bytes([w[0], w[1]]) <= 27_648));
    }

    #[test]
    fn bad_requests_get_exceptions_in_the_specified_order() {
        let m = modbus();
        assert_eq!(pdu(m.execute(3, &[0, 0, 0, 0])), [0x83, ILLEGAL_DATA_VALUE]);
        assert_eq!(pdu(m.execute(3, &[0, 0, 0, 126])), [0x83, ILLEGAL_DATA_VALUE]);
        assert_eq!(pdu(m.execute(3, &[0, 255, 0, 2])), [0x83, ILLEGAL_DATA_ADDRESS]);
        assert_eq!(pdu(m.execute(3, &[255, 255, 0, 125])), [0x83, ILLEGAL_DATA_ADDRESS]);
        assert_eq!(pdu(m.execute(1, &[0, 0])), [0x81, ILLEGAL_DATA_VALUE]);
        assert_eq!(pdu(m.execute(8, &[0, 0, 0, 0])), [0x88, ILLEGAL_FUNCTION]);
        assert_eq!(pdu(m.execute(5, &[0, 1, 0x12, 0x34])), [0x85, ILLEGAL_DATA_VALUE]);
        assert_eq!(pdu(m.execute(16, &[0, 0, 0, 2, 3, 0, 1, 0])), [0x90, ILLEGAL_DATA_VALUE]);
    }

    #[test]
    fn writes_are_echoed_and_kept() {
        let m = modbus();
        assert_eq!(pdu(m.execute(6, &[0, 7, 0x12, 0x34])), [6, 0, 7, 0x12, 0x34]);
        assert_eq!(pdu(m.execute(3, &[0, 7, 0, 1])), [3, 2, 0x12, 0x34]);
        assert_eq!(pdu(m.execute(16, &[0, 8, 0, 2, 4, 0, 1, 0, 2])), [16, 0, 8, 0, 2]);
        assert_eq!(pdu(m.execute(3, &[0, 8, 0, 2])), [3, 4, 0, 1, 0, 2]);
        assert_eq!(pdu(m.execute(5, &[0, 3, 0xff, 0])), [5, 0, 3, 0xff, 0]);
        assert_eq!(pdu(m.execute(15, &[0, 0, 0, 3, 1, 0b101])), [15, 0, 0, 0, 3]);
        assert_eq!(pdu(m.execute(1, &[0, 0, 0, 4])), [1, 1, 0b1101]);
        let outcome = m.execute(15, &[0, 0, 0, 3, 1, 0b101]);
        assert_eq!(outcome.fields.get("values").unwrap(), "101");
    }

    #[test]
    fn device_identification_names_the_s7_200() {
        let answer = pdu(modbus().execute(43, &[0x0e, 1, 0]));
        let mut expected = vec![43, 0x0e, 1, CONFORMITY, 0, 0, 3, 0, 7];
        expected.extend_from_slice(b"Siemens");
        expected.extend_from_slice(&[1, 7]);
        expected.extend_from_slice(b"SIMATIC");
        expected.extend_from_slice(&[2, 6]);
        expected.extend_from_slice(b"S7-200");
        assert_eq!(answer, expected);
        assert_eq!(
            pdu(modbus().execute(43, &[0x0e, 4, 2]))[6..],
            [1, 2, 6, b'S', b'7', b'-', b'2', b'0', b'0']
        );
        assert_eq!(pdu(modbus().execute(43, &[0x0e, 4, 9])), [0xab, ILLEGAL_DATA_ADDRESS]);
        assert_eq!(pdu(modbus().execute(43, &[0x0d, 1, 0])), [0xab, ILLEGAL_FUNCTION]);
        assert_eq!(pdu(modbus().execute(43, &[])), [0xab, ILLEGAL_DATA_VALUE]);
    }

    #[test]
    fn garbage_never_panics() {
        let m = modbus();
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let data: Vec<u8> = (0..rng.usize(0..12)).map(|_| rng.u8(..)).collect();
            let any = rng.u8(..);
            let function = rng.choice([1, 2, 3, 4, 5, 6, 15, 16, 43, any]).unwrap();
            let outcome = m.execute(function, &data);
            assert!(outcome.pdu.len() <= MAX_PDU);
        }
    }

    #[test]
    fn frames_echo_the_request_ids() {
        let head = [0x12, 0x34, 0, 0, 0, 6, 0x11, 3];
        assert_eq!(adu(&head, &[3, 2, 0, 1]), [0x12, 0x34, 0, 0, 0, 5, 0x11, 3, 2, 0, 1]);
        assert_eq!(unframed(b'T').pdu, [0xd4, ILLEGAL_FUNCTION]);
    }
}
