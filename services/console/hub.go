package console

import "sync"

// Event is one live update for the browsers: a new signal or a changed status.
type Event struct {
	// Kind is "signal" or "status": the server-sent event's name.
	Kind string
	// Data is the event's JSON.
	Data []byte
}

// hub hands every event to every connected browser. A browser that does not keep up loses
// events rather than slowing the others: its page catches up at its next reload.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

func newHub() *hub { return &hub{subs: map[chan Event]struct{}{}} }

func (h *hub) subscribe() chan Event {
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan Event) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
