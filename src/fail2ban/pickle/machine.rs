//! The decode arena: the machine's state (input, stack, memo, nodes) and the operations the
//! opcodes are made of. `decode` runs the opcodes on it; `build` turns it into a `Value`.

use super::build::Builder;
use super::names::python3_name;
use super::*;

/// A node of the decode arena, 16 bytes and nothing to drop: a ban list makes tens of thousands,
/// and their memory, touched afresh by every decode, costs more than the opcodes. Strings and
/// bytes are ranges of the input (copied only when the tree is built); tuples are ranges of the
/// shared `edges`; lists, dicts and rare values live out of line.
#[derive(Debug, Clone, Copy)]
pub(super) enum Node {
    None,
    Bool(bool),
    Int(i64),
    /// UTF-8, validated when read.
    Str(Span),
    /// A Python 2 byte string: UTF-8 if it is, else Latin-1.
    Py2Str(Span),
    Bytes(Span),
    /// `builtins.str`, recognized once so `str(x)` calls are cheap to spot.
    StrClass,
    /// Index into `Machine::others`: anything rarer (floats, big ints, escaped text, other
    /// class references).
    Other(u32),
    Tuple(Span),
    /// Index into `Scratch::lists` (lists grow after creation; keeping them out of line keeps
    /// every node small).
    List(u32),
    /// Index into `Scratch::lists` too: keys and values alternate (one pool for both keeps
    /// the code small).
    Dict(u32),
    Call(u32, u32),
}

/// A range `start..end` of the input (for strings) or of `edges` (for tuples).
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(super) fn of(r: std::ops::Range<usize>) -> Span {
        // Inputs are capped far below 4 GiB by the client; saturate rather than wrap.
        Span {
            start: u32::try_from(r.start).unwrap_or(u32::MAX),
            end: u32::try_from(r.end).unwrap_or(u32::MAX),
        }
    }
    pub(super) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Stack entry: a node id, or a mark.
pub(super) const MARK_ID: u32 = u32::MAX;

pub(super) struct Machine<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
    /// Offset of the opcode being run (for errors).
    pub(super) at: usize,
    /// Nodes, edges, containers, stack and memo: kept by a `Decoder` for the next pickle.
    pub(super) s: Scratch,
    pub(super) others: Vec<Value>,
    pub(super) marks: usize,
    /// The protocol `PROTO` declared (0 without one): Python 2 names are mapped below 3.
    pub(super) proto: u8,
}

/// `Ok(None)` inside the machine: the input ends early.
pub(super) type Step<T> = Result<Option<T>, Error>;

/// The machine's buffers; between two decodes empty, with the capacity the last ones grew to.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) nodes: Vec<Node>,
    /// Children of tuples, in ranges.
    pub(super) edges: Vec<u32>,
    /// Children of each list; of each dict, keys and values alternating.
    pub(super) lists: Pool<u32>,
    pub(super) stack: Vec<u32>,
    pub(super) memo: Vec<u32>,
}

impl Scratch {
    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        fn of<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        of(&self.nodes) + of(&self.edges) + self.lists.bytes() + of(&self.stack) + of(&self.memo)
    }
}

/// Vecs handed out in order, and on the next decode cleared and handed out again instead of
/// freed and allocated anew: a list's buffer, once grown to a ban list, stays grown.
#[derive(Default)]
pub(super) struct Pool<T> {
    vecs: Vec<Vec<T>>,
    /// `vecs[..used]` are in use; the rest wait, holding stale items, to be cleared.
    used: usize,
}

impl<T> Pool<T> {
    /// A new empty Vec: its index.
    fn add(&mut self) -> usize {
        match self.vecs.get_mut(self.used) {
            Some(v) => v.clear(),
            None => self.vecs.push(Vec::new()),
        }
        self.used += 1;
        self.used - 1
    }

    fn bytes(&self) -> usize {
        let items: usize = self.vecs.iter().map(Vec::capacity).sum();
        self.vecs.capacity() * std::mem::size_of::<Vec<T>>() + items * std::mem::size_of::<T>()
    }
}

impl<T> std::ops::Index<u32> for Pool<T> {
    type Output = Vec<T>;
    fn index(&self, index: u32) -> &Vec<T> {
        &self.vecs[index as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Pool<T> {
    fn index_mut(&mut self, index: u32) -> &mut Vec<T> {
        &mut self.vecs[index as usize]
    }
}

impl<'a> Machine<'a> {
    /// A machine for `buf`, in the buffers of `s`.
    pub(super) fn new(buf: &'a [u8], s: Scratch) -> Self {
        Machine {
            buf,
            pos: 0,
            at: 0,
            s,
            others: Vec::new(),
            marks: 0,
            proto: 0,
        }
    }

    /// The buffers, emptied, for the next machine.
    pub(super) fn into_scratch(self) -> Scratch {
        let mut s = self.s;
        s.nodes.clear();
        s.edges.clear();
        s.lists.used = 0;
        s.stack.clear();
        s.memo.clear();
        s
    }

    /// Build the tree of `root` (after `run`).
    pub(super) fn build(&self, root: u32) -> Result<Value, Error> {
        let mut b = Builder {
            m: self,
            left: self
                .buf
                .len()
                .saturating_mul(MAX_EXPANSION)
                .saturating_add(64),
            offset: self.pos,
        };
        b.build(root, 0)
    }

    pub(super) fn err(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            offset: self.at,
        }
    }

    #[inline(always)]
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Like `take`, but as a span of the input.
    #[inline(always)]
    pub(super) fn span(&mut self, n: usize) -> Option<Span> {
        let start = self.pos;
        self.take(n)?;
        Some(Span::of(start..self.pos))
    }

    #[inline(always)]
    pub(super) fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    #[inline(always)]
    pub(super) fn u32le(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length that must fit in the remaining input (else: incomplete, never an allocation).
    pub(super) fn len64(&mut self) -> Option<usize> {
        let b = self.take(8)?;
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos.min(self.buf.len()))
    }

    /// A text line without its newline.
    pub(super) fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        self.pos += n + 1;
        Some(&rest[..n])
    }

    #[inline(always)]
    pub(super) fn push_node(&mut self, node: Node) -> Result<(), Error> {
        let id = u32::try_from(self.s.nodes.len())
            .ok()
            .filter(|&id| id != MARK_ID)
            .ok_or(self.err(ErrorKind::TooLarge))?;
        self.s.stack.push(id);
        self.s.nodes.push(node);
        Ok(())
    }

    pub(super) fn push(&mut self, v: Value) -> Result<(), Error> {
        let index = self.index(self.others.len())?;
        self.others.push(v);
        self.push_node(Node::Other(index))
    }

    pub(super) fn new_dict(&mut self) -> Result<u32, Error> {
        let added = self.s.lists.add();
        let index = self.index(added)?;
        self.push_node(Node::Dict(index))?;
        self.pop()
    }

    pub(super) fn index(&self, len: usize) -> Result<u32, Error> {
        u32::try_from(len).map_err(|_| self.err(ErrorKind::TooLarge))
    }

    /// The text of a `Str` node (validated when it was read).
    pub(super) fn text_of(&self, span: Span) -> &'a str {
        let buf: &'a [u8] = self.buf;
        std::str::from_utf8(&buf[span.range()]).unwrap_or_default()
    }

    #[inline(always)]
    pub(super) fn utf8(&mut self, span: Span) -> Result<(), Error> {
        // ASCII (every IP) is checked inline, word by word; only other text pays for a call.
        let bytes = &self.buf[span.range()];
        if !bytes.is_ascii() && std::str::from_utf8(bytes).is_err() {
            return Err(self.err(ErrorKind::InvalidUtf8));
        }
        self.push_node(Node::Str(span))
    }

    /// A list of the stack entries from `from` on.
    pub(super) fn new_list(&mut self, from: usize) -> Result<(), Error> {
        let added = self.s.lists.add();
        let index = self.index(added)?;
        let Scratch { lists, stack, .. } = &mut self.s;
        lists[index].extend_from_slice(&stack[from..]);
        stack.truncate(from);
        self.push_node(Node::List(index))
    }

    #[inline(always)]
    pub(super) fn pop(&mut self) -> Result<u32, Error> {
        match self.s.stack.pop() {
            Some(MARK_ID) | None => Err(self.err(ErrorKind::StackUnderflow)),
            Some(id) => Ok(id),
        }
    }

    /// Remove the topmost mark: where it was, where the entries above it now start.
    pub(super) fn pop_mark(&mut self) -> Result<usize, Error> {
        let at = self.mark_at()?;
        self.s.stack.remove(at);
        self.marks -= 1;
        Ok(at)
    }

    pub(super) fn mark_at(&self) -> Result<usize, Error> {
        self.s
            .stack
            .iter()
            .rposition(|&id| id == MARK_ID)
            .ok_or(self.err(ErrorKind::NoMark))
    }

    #[inline(always)]
    pub(super) fn top(&self) -> Result<u32, Error> {
        match self.s.stack.last() {
            Some(&MARK_ID) | None => Err(self.err(ErrorKind::StackUnderflow)),
            Some(&id) => Ok(id),
        }
    }

    pub(super) fn text(&self, bytes: &'a [u8]) -> Result<&'a str, Error> {
        std::str::from_utf8(bytes).map_err(|_| self.err(ErrorKind::InvalidUtf8))
    }

    #[inline(always)]
    pub(super) fn memo_put(&mut self, index: usize) -> Result<(), Error> {
        // A pickler numbers its puts 0, 1, 2..., each at least two bytes, so an index beyond the
        // bytes read so far is hostile: refused, so the wire cannot size the memo (a 9-byte
        // pickle asking for index 2^20 - 1 would otherwise allocate 4 MiB).
        if index >= MAX_MEMO || index > self.pos {
            return Err(self.err(ErrorKind::MemoTooLarge));
        }
        let id = self.top()?;
        if index == self.s.memo.len() {
            self.s.memo.push(id);
        } else {
            if index > self.s.memo.len() {
                self.s.memo.resize(index + 1, MARK_ID);
            }
            self.s.memo[index] = id;
        }
        Ok(())
    }

    /// Heap bytes the memo holds.
    #[cfg(test)]
    pub(super) fn memo_bytes(&self) -> usize {
        self.s.memo.capacity() * std::mem::size_of::<u32>()
    }

    #[inline(always)]
    pub(super) fn memo_get(&mut self, index: usize) -> Result<(), Error> {
        match self.s.memo.get(index) {
            Some(&id) if id != MARK_ID => {
                self.s.stack.push(id);
                Ok(())
            }
            _ => Err(self.err(ErrorKind::BadMemoRef)),
        }
    }

    /// Move the stack entries from `from` on into the list `list`.
    pub(super) fn extend_list(&mut self, list: u32, from: usize) -> Result<(), Error> {
        self.extend(list, from, false)
    }

    /// Move the stack entries from `from` on, keys and values, into the dict `dict`.
    pub(super) fn extend_dict(&mut self, dict: u32, from: usize) -> Result<(), Error> {
        if !(self.s.stack.len() - from).is_multiple_of(2) {
            return Err(self.err(ErrorKind::StackUnderflow));
        }
        self.extend(dict, from, true)
    }

    fn extend(&mut self, container: u32, from: usize, dict: bool) -> Result<(), Error> {
        match (self.s.nodes.get(container as usize), dict) {
            (Some(&Node::List(index)), false) | (Some(&Node::Dict(index)), true) => {
                let Scratch { lists, stack, .. } = &mut self.s;
                lists[index].extend_from_slice(&stack[from..]);
                stack.truncate(from);
                Ok(())
            }
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }

    /// A tuple of the stack entries from `from` on.
    pub(super) fn tuple_from(&mut self, from: usize) -> Result<(), Error> {
        let start = self.s.edges.len();
        self.s.edges.extend_from_slice(&self.s.stack[from..]);
        self.s.stack.truncate(from);
        let span = Span::of(start..self.s.edges.len());
        self.push_node(Node::Tuple(span))
    }

    pub(super) fn global(&mut self, module: &str, name: &str) -> Result<(), Error> {
        let (module, name) = python3_name(self.proto, module, name).unwrap_or((module, name));
        if (module, name) == ("builtins", "str") {
            return self.push_node(Node::StrClass);
        }
        self.push(Value::Global(Box::new(Global {
            module: module.into(),
            name: name.into(),
        })))
    }

    /// `callable(*args)`. fail2ban's IPAddr, `builtins.str('203.0.113.5')`, thousands of times
    /// per ban list, is that str itself (what `build` would make of the call), not a new node.
    pub(super) fn call(&mut self, callable: u32, args: u32) -> Result<(), Error> {
        if let (Node::StrClass, Node::Tuple(span)) =
            (self.s.nodes[callable as usize], self.s.nodes[args as usize])
        {
            if let [arg] = self.s.edges[span.range()] {
                if let Node::Str(_) = self.s.nodes[arg as usize] {
                    self.s.stack.push(arg);
                    return Ok(());
                }
            }
        }
        self.push_node(Node::Call(callable, args))
    }

    /// fail2ban's `IPAddr` as CPython pickles it at protocols 4 and 5, 10,000 times in a big
    /// `status` reply: `BINGET i` (the memoized `builtins.str`) `SHORT_BINUNICODE` text
    /// `MEMOIZE TUPLE1 MEMOIZE REDUCE MEMOIZE`. Run here in one step, after `BINGET i`: the same
    /// nodes, edge, memo entries and stack as the seven opcodes one by one would leave (the
    /// call reduced to its str as in `call`), without six dispatches and their round trips of
    /// the machine's state through memory, which were a third of the decode. `false`: not that
    /// shape (or a limit is near); nothing changed, run the opcodes one by one.
    pub(super) fn str_call(&mut self, memo_index: u8) -> bool {
        const TAIL: [u8; 5] = [MEMOIZE, TUPLE1, MEMOIZE, REDUCE, MEMOIZE];
        let Some(&class) = self.s.memo.get(usize::from(memo_index)) else {
            return false;
        };
        let start = self.pos + 2;
        let (Some(&[SHORT_BINUNICODE, n]), true) = (
            self.buf.get(self.pos..start),
            matches!(self.s.nodes.get(class as usize), Some(Node::StrClass)),
        ) else {
            return false;
        };
        let end = start + usize::from(n);
        let (Some(text), Some(tail)) = (self.buf.get(start..end), self.buf.get(end..end + 5))
        else {
            return false;
        };
        let (str_id, memo) = (self.s.nodes.len(), self.s.memo.len());
        // `memo_put`'s checks for the first index (the next two follow from it), `push_node`'s
        // for the ids, and `utf8`'s: on any of them the opcodes run one by one and say why.
        if tail != TAIL
            || memo + 3 > MAX_MEMO
            || memo > end + 1
            || str_id + 2 >= MARK_ID as usize
            || !(text.is_ascii() || std::str::from_utf8(text).is_ok())
        {
            return false;
        }
        let (str_id, edge) = (str_id as u32, self.s.edges.len());
        // (Arrays, not pushes one by one: each push is a call at `opt-level = "z"`.)
        self.s.nodes.extend([
            Node::Str(Span::of(start..end)),
            Node::Tuple(Span::of(edge..edge + 1)),
        ]);
        self.s.edges.push(str_id);
        self.s.memo.extend([str_id, str_id + 1, str_id]);
        self.s.stack.push(str_id);
        self.pos = end + 5;
        true
    }

    pub(super) fn str_of(&self, id: u32) -> Result<&'a str, Error> {
        match self.s.nodes[id as usize] {
            Node::Str(span) => Ok(self.text_of(span)),
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }
}
