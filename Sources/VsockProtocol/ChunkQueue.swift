/// A FIFO that advances a head index instead of shifting its array on every removal (`Array.removeFirst` is
/// O(n)). A removed slot is cleared at once, and the cleared slots are dropped in bulk once they are half the
/// array, so a queue that never quite empties (a stream its credit keeps busy) holds only what it still has to
/// hand out: a written chunk is freed when it is removed, not when the queue next runs empty.
///
/// Used wherever frames or byte arrays wait in line: the two lanes of ``OutboundQueue``, vm-init's stdin and
/// output queues, the supervisor's relays and output sinks.
public struct ChunkQueue<Element> {
    private var items: [Element?] = []
    private var head = 0

    public init() {}

    public var isEmpty: Bool { head == items.count }
    /// Elements queued.
    public var count: Int { items.count - head }
    public var first: Element? { head < items.count ? items[head] : nil }
    public var last: Element? { head < items.count ? items[items.count - 1] : nil }
    /// The queued elements, front first.
    public var elements: some Sequence<Element> { items[head...].lazy.compactMap { $0 } }

    public mutating func append(_ element: Element) { items.append(element) }

    /// Changes the last element in place (no copy of what it holds, when the queue holds the only reference).
    public mutating func updateLast(_ body: (inout Element) -> Void) {
        guard head < items.count, var element = items[items.count - 1] else { return }
        items[items.count - 1] = nil  // keeps `element` uniquely referenced while `body` changes it
        body(&element)
        items[items.count - 1] = element
    }

    /// Removes and returns the front element.
    @discardableResult
    public mutating func removeFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 1024)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeSubrange(0..<head)
            head = 0
        }
        return element
    }

    public mutating func removeAll() {
        items.removeAll()
        head = 0
    }
}

extension ChunkQueue: Sendable where Element: Sendable {}
