/// Turns off LeakSanitizer's exit-time check for the test runner itself under `make check-asan`.
///
/// What the check would report there is the harness's, not the product's: Swift Testing keeps the strings
/// captured in expectation messages. The product processes the tests launch (fc-supervisor, vm-init) are separate
/// executables and keep the check: their leaks fail the tests that run them. LeakSanitizer looks this function
/// up at exit; without a sanitizer nothing calls it.
@_cdecl("__lsan_is_turned_off")
public func leakSanitizerIsTurnedOffForTheTestRunner() -> Int32 { 1 }
