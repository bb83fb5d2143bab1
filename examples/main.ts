/** `npm start`: the example foldflow runs by default. */
import "./control-dependencies";
